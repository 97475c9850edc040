; Inno Setup script for the Windows installer (untested here: no Windows machine).
; Build on Windows after `pyinstaller packaging\fsorg.spec` has produced dist\fsorg:
;   iscc /DAppVersion=0.1.0 packaging\windows\fsorg.iss
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6B1C2E0A-6F0D-4C1B-9F4E-3B7A1D2C5E90}
AppName=fsorg
AppVersion={#AppVersion}
AppPublisher=fsorg developers
DefaultDirName={autopf}\fsorg
DefaultGroupName=fsorg
DisableProgramGroupPage=yes
OutputDir=..\..\dist
OutputBaseFilename=fsorg-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
SetupIconFile=..\..\resources\icons\fsorg.ico
UninstallDisplayIcon={app}\fsorg.exe
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\fsorg\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\fsorg"; Filename: "{app}\fsorg.exe"
Name: "{group}\Uninstall fsorg"; Filename: "{uninstallexe}"
Name: "{autodesktop}\fsorg"; Filename: "{app}\fsorg.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\fsorg.exe"; Description: "{cm:LaunchProgram,fsorg}"; Flags: nowait postinstall skipifsilent
